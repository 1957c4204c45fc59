"""CLI assertions that can fail: the exact fired set (from `verify --json`, the stderr line and the
guard table parsed by row, which must agree), exact suspect ids, exit codes with the exact one-line
stderr message; the trust checks on --reference, --holdout and the golden holdout; pipeline's
pre-checks before Prefect."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.server import free_port
from labelguard.tasks.attacks import flip_labels
from labelguard.tasks.dataset import DATA_KEY, from_parquet_bytes, to_parquet_bytes, write_dataset
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore, open_store
from labelguard.tasks.synthetic import make_reviews
from labelguard.tasks.verify import make_baseline

runner = CliRunner()
TRUST_FIX = "(fix: restore the trusted data from a signed copy, or point at another signed baseline/holdout)"


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def guard_table(stdout: str) -> dict[str, str]:
    """Guard name -> verdict, one per table row (continuation rows have an empty first cell)."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if len(cells) >= 3 and cells[0] and cells[0] != "guard":
            rows[cells[0]] = cells[1]
    return rows


def fired_from_stderr(stderr: str) -> set[str]:
    """The names in the one stderr line: `guard fired: a, b` or `guard fired: a, b fired, ...`."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    m = re.match(r"guard fired: ([a-z_, ]+?)(?: fired,|$| \()", lines[0])
    assert m, lines[0]
    return {n.strip() for n in m.group(1).split(",")}


def flip_at_rest(store, rows: list[int]) -> list[str]:
    frame = from_parquet_bytes(store.get(DATA_KEY))
    frame.loc[rows, "label"] = 1 - frame.loc[rows, "label"]
    store.put(DATA_KEY, to_parquet_bytes(frame), create_only=False)
    return sorted(frame.loc[rows, "review_id"])


@pytest.fixture
def world(tmp_path, keys):
    sign = load_signing_key(keys[0])
    write_dataset(LocalStore(tmp_path / "ds"), make_reviews(3000, seed=1), ColumnSpec(), sign, source={"kind": "synthetic"})
    write_dataset(LocalStore(tmp_path / "trusted"), make_reviews(1000, seed=2), ColumnSpec(), sign, source={"kind": "synthetic"})
    make_baseline(str(tmp_path / "trusted"), str(tmp_path / "baseline"), load_verify_key(keys[1]), sign)
    return tmp_path


def verify(world, keys, *extra, ds="ds"):
    out = world / "v.json"
    out.unlink(missing_ok=True)
    res = invoke("verify", world / ds, "--reference", world / "baseline", "--json", out, "--verify-key", keys[1], *extra)
    return res, (json.loads(out.read_text()) if out.exists() else None)


def test_clean_dataset_exit_0_nothing_fired(world, keys):
    res, doc = verify(world, keys)
    assert res.exit_code == 0 and res.stderr == ""
    table = guard_table(res.stdout)
    assert set(table) == {g["name"] for g in doc["guards"]}
    assert {n for n, v in table.items() if v != "pass"} == {"label_contract"} and table["label_contract"] == "skipped"
    assert doc["ok"] is True and doc["verdict"] == "pass" and not [g for g in doc["guards"] if not g["passed"]]
    # nothing fired: at most a handful of "most likely flipped" rows from the pooled posterior, said as such
    assert doc["suspects_from"] in ([], ["flip_posterior"]) and len(doc["suspect_ids"]) <= 15


def test_at_rest_flips_fire_exactly_manifest_and_name_exactly_the_rows(world, keys):
    flipped = flip_at_rest(LocalStore(world / "ds"), [5, 1200, 2999])
    res, doc = verify(world, keys)
    assert res.exit_code == 1
    assert res.stderr == "guard fired: manifest\n"
    fired = {g["name"] for g in doc["guards"] if not g["passed"]}
    assert fired == {"manifest"} == fired_from_stderr(res.stderr)
    assert {n for n, v in guard_table(res.stdout).items() if v == "fired"} == {"manifest"}
    assert doc["suspect_ids"] == flipped and doc["suspects_from"] == ["manifest"]
    assert res.stdout.strip().splitlines()[-2:] == [f"suspect rows (3, from manifest): {', '.join(flipped)}", "verdict: fired — manifest fired"]


def test_source_poisoning_fired_set_agrees_everywhere(world, keys, tmp_path):
    poisoned = flip_labels(make_reviews(3000, seed=7), ColumnSpec(), attack="targeted", rate=0.2, seed=7).frame
    write_dataset(LocalStore(world / "poisoned"), poisoned, ColumnSpec(), load_signing_key(keys[0]), source={"kind": "synthetic"})
    res, doc = verify(world, keys, ds="poisoned")
    assert res.exit_code == 1
    fired = {g["name"] for g in doc["guards"] if not g["passed"]}
    assert fired == fired_from_stderr(res.stderr) == {n for n, v in guard_table(res.stdout).items() if v == "fired"}
    # the prior moved by 20 points: class_balance must be among them; the intact signature and schema must not
    assert "class_balance" in fired and not fired & {"manifest", "schema", "duplicate_conflicts", "label_contract"}


# ------------------------------------------------------------------ trusted inputs stay trusted


def test_tampered_reference_is_refused_not_used(world, keys):
    flip_at_rest(LocalStore(world / "baseline"), [1, 2])
    res, doc = verify(world, keys)
    line = res.stderr.strip()
    assert line.startswith(f"guard fired: reference fired, cannot be trusted (the reference at {world / 'baseline'} failed verification: digest-mismatch: data.parquet: SHA-256 ")
    assert line.endswith("2 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing; rows: rev-0000001, rev-0000002) " + TRUST_FIX)
    assert res.stdout == ""
    # nothing judged against an untrusted reference: the JSON a CI job reads on exit 1 says so (break-it r12 F4)
    detail = line.removeprefix("guard fired: reference fired, cannot be trusted (").removesuffix(") " + TRUST_FIX)
    assert res.exit_code == 1 and (doc["ok"], doc["verdict"], doc["verdict_detail"], doc["suspect_ids"]) == (False, "fired", "reference cannot be trusted: " + detail, [])
    assert [(g["name"], g["verdict"], g["detail"], g["suspect_ids"]) for g in doc["guards"]] == [("reference", "fired", detail, ["rev-0000001", "rev-0000002"])]
    assert doc["untrusted_input"] == {"role": "reference", "uri": str(world / "baseline"), "changed_ids": ["rev-0000001", "rev-0000002"]}


def test_training_set_passed_as_reference_is_a_usage_error_not_tampering(world, keys):
    """Intact, signed data in the wrong role at its own location is the user's mistake: exit 2, nothing judged."""
    ds_id = json.loads((world / "trusted" / "manifest.json").read_text())["payload"]["dataset"]["id"]
    res = invoke("verify", world / "ds", "--reference", world / "trusted", "--verify-key", keys[1])
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.strip() == (
        f"error: the reference at {world / 'trusted'} is a training set (dataset {ds_id}, role 'data', signed and intact), not baseline or holdout data "
        f"(fix: if its rows are trusted (labelled apart from the data you check), make a baseline of them with `labelguard baseline "
        f"{world / 'trusted'} --out DIR` and pass DIR)"  # it has no holdout: pointing at {world / 'trusted'}/holdout was a wrong fix
    )
    res = invoke("verify", world / "ds", "--holdout", world / "trusted", "--verify-key", keys[1])
    assert res.exit_code == 2 and res.stderr.strip() == (
        f"error: the holdout at {world / 'trusted'} is a training set (dataset {ds_id}, role 'data', signed and intact), not holdout data "
        "(fix: pass a dataset's holdout (the holdout folder `labelguard ingest` writes beside its data))"
    )


def test_training_set_swapped_into_a_holdout_folder_stays_untrusted(world, keys):
    """The same signed training set copied into another dataset's holdout folder is a swap: exit 1."""
    ds_id = json.loads((world / "trusted" / "manifest.json").read_text())["payload"]["dataset"]["id"]
    slot = world / "ds" / "holdout"
    shutil.rmtree(slot, ignore_errors=True)
    shutil.copytree(world / "trusted", slot)
    res = invoke("verify", world / "ds", "--holdout", slot, "--verify-key", keys[1])
    assert res.exit_code == 1 and res.stderr.strip() == (
        f"guard fired: holdout fired, cannot be trusted (the holdout at {slot} failed verification: wrong-dataset: "
        f"the manifest is for dataset {ds_id} in role 'data'; expected holdout) {TRUST_FIX}"
    )


def test_tampered_holdout_is_refused(world, keys):
    sign = load_signing_key(keys[0])
    from labelguard.tasks.manifest import DatasetRef

    write_dataset(LocalStore(world / "ho"), make_reviews(1000, seed=3), ColumnSpec(), sign, source={"kind": "synthetic"}, dataset=DatasetRef("ho", role="holdout"))
    res, _ = verify(world, keys, "--holdout", world / "ho")
    assert res.exit_code == 0, res.stderr  # the intact holdout is accepted (1,000 rows: the model gate sees a 2-point drop)
    flip_at_rest(LocalStore(world / "ho"), [0])
    res, doc = verify(world, keys, "--holdout", world / "ho")
    assert res.exit_code == 1 and (doc["verdict"], doc["suspect_ids"], [g["name"] for g in doc["guards"]]) == ("fired", [], ["holdout"])
    assert res.stderr.strip().startswith(f"guard fired: holdout fired, cannot be trusted (the holdout at {world / 'ho'} failed verification: digest-mismatch: ")
    assert doc["untrusted_input"]["changed_ids"] == doc["guards"][0]["suspect_ids"] == ["rev-0000000"]


def test_tampered_golden_holdout_is_refused(world, keys, monkeypatch):
    """The shipped golden holdout is verified under its own key: a copy edited at rest is refused."""
    import labelguard.tasks.verify as verify_mod

    store, key = verify_mod.golden_holdout()
    copy = world / "golden"
    shutil.copytree(store.root, copy)
    flip_at_rest(LocalStore(copy), [3])
    monkeypatch.setattr(verify_mod, "golden_holdout", lambda: (LocalStore(copy), key))
    res, doc = verify(world, keys)
    assert res.exit_code == 1 and (doc["verdict"], [g["name"] for g in doc["guards"]], doc["untrusted_input"]["uri"]) == ("fired", ["golden holdout"], str(copy))
    assert res.stderr.strip().startswith(f"guard fired: golden holdout fired, cannot be trusted (the golden holdout at {copy} failed verification: digest-mismatch: ")


# ------------------------------------------------------------------ pipeline checks before Prefect

DEAD_PREFECT = f"http://127.0.0.1:{free_port()}/api"


@pytest.mark.parametrize(
    "args, message",
    [
        (("--rate", "1.5"), "error: rate must be within [0, 1], got 1.5 (fix: pass e.g. --rate 0.2)"),
        (("--transform", "nope"), "error: unknown transform 'nope'"),
        (("--model", "svm"), "error: unknown model 'svm'"),
        (("--verify-key", "{tmp}/none.pub"), "error: cannot read verify key {tmp}/none.pub"),
    ],
)
def test_pipeline_prechecks_answer_before_prefect(args, message, world, keys, monkeypatch):
    """PREFECT_API_URL points at a closed port: a check that ran after Prefect would print Prefect's message."""
    monkeypatch.setenv("PREFECT_API_URL", DEAD_PREFECT)
    args = [a.format(tmp=world) for a in args]
    extra = [] if "--verify-key" in args else ["--verify-key", keys[1]]
    res = invoke("pipeline", world / "ds", *args, *extra)
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message.format(tmp=world)), res.stderr
    assert res.stdout == ""


def test_pipeline_with_good_flags_reaches_the_prefect_check(world, keys, monkeypatch):
    from labelguard.tasks.manifest import DatasetRef

    monkeypatch.setenv("PREFECT_API_URL", DEAD_PREFECT)
    # a holdout in role holdout: `trusted` is a training set, which pipeline now refuses before Prefect (break-it r8 F21)
    write_dataset(LocalStore(world / "gold"), make_reviews(1000, seed=2), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "synthetic"},
                  dataset=DatasetRef("gold", "holdout"))
    res = invoke("pipeline", world / "ds", "--holdout", world / "gold", "--verify-key", keys[1])  # ds has no holdout of its own
    assert res.exit_code == 2
    assert res.stderr.strip().startswith(f"error: the Prefect API at {DEAD_PREFECT} does not answer")


# ------------------------------------------------------------------ pipeline round trip (Prefect)


@pytest.mark.flow
def test_pipeline_fired_set_reference_holdout_model_out(tmp_path, keys, prefect_harness):
    ds = tmp_path / "ds"
    assert invoke("ingest", "--dest", ds, "--rows", 1500, "--signing-key", keys[0]).exit_code == 0
    sign, pub = load_signing_key(keys[0]), load_verify_key(keys[1])
    write_dataset(LocalStore(tmp_path / "trusted"), make_reviews(800, seed=9), ColumnSpec(), sign, source={"kind": "synthetic"})
    make_baseline(str(tmp_path / "trusted"), str(tmp_path / "baseline"), pub, sign)
    env = {"LABELGUARD_VERIFY_KEY": str(keys[1])}

    fired = invoke("pipeline", ds, "--transform", "targeted", "--rate", 0.2, env=env)
    assert fired.exit_code == 1
    names = fired_from_stderr(fired.stderr)
    assert fired.stderr.strip().endswith("training stopped (fix: inspect the guard results; rerun with --observe to measure the damage anyway)")
    assert names == {n for n, v in guard_table(fired.stdout).items() if v == "fired"}
    assert {"label_contract", "class_balance"} <= names and not names & {"manifest", "schema", "duplicate_conflicts"}

    out = tmp_path / "report"
    ok = invoke("pipeline", ds, "--reference", tmp_path / "baseline", "--holdout", ds / "holdout", "--model", "knn", "--out", out, env=env)
    assert ok.exit_code == 0, ok.stderr
    assert ok.stderr == "" and "fired" not in guard_table(ok.stdout).values()
    assert {p.name for p in out.iterdir()} == {"report.md", "report.json", "boundaries.png"}
    run = json.loads((out / "report.json").read_text())["runs"]["pipeline"]
    assert run["trained"] is True and run["fired"] == [] and run["metrics"]["accuracy"] > 0.95

    flip_at_rest(LocalStore(tmp_path / "baseline"), [0])
    bad_ref = invoke("pipeline", ds, "--reference", tmp_path / "baseline", env=env)
    assert bad_ref.exit_code == 1
    assert bad_ref.stderr.strip().startswith("guard fired: reference fired, cannot be trusted (reference baseline failed verification: digest-mismatch: ")
    flip_at_rest(LocalStore(ds / "holdout"), [0])
    bad_ho = invoke("pipeline", ds, env=env)
    assert bad_ho.exit_code == 1
    assert bad_ho.stderr.strip().startswith("guard fired: holdout fired, cannot be trusted (trusted holdout failed verification: digest-mismatch: ")


def test_verify_whose_every_selected_guard_is_skipped_cannot_tell_not_pass(tmp_path, keys):
    """A CI gate `verify URI --guards model_gate` on data without a holdout used to go green having
    checked nothing. Every selected guard skipped is `inconclusive` (exit 1), with what each needed;
    a selection where one guard ran is judged as before."""
    write_dataset(LocalStore(tmp_path / "ds"), make_reviews(600, seed=3), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "file"})
    res = invoke("verify", tmp_path / "ds", "--guards", "model_gate,class_balance", "--verify-key", keys[1])
    assert res.exit_code == 1, res.output
    assert guard_table(res.stdout) == {"model_gate": "skipped", "class_balance": "skipped"}
    assert res.stderr == (
        "cannot tell: no guard ran, every one selected was skipped (model_gate: needs a trusted reference and a golden holdout; "
        "class_balance: no reference class counts) (fix: give the selected guards what they need (a --reference or --holdout), "
        "select guards that can run here, or --allow-inconclusive)\n"
    )
    assert invoke("verify", tmp_path / "ds", "--guards", "model_gate,class_balance", "--allow-inconclusive", "--verify-key", keys[1]).exit_code == 0
    ran = invoke("verify", tmp_path / "ds", "--guards", "manifest,model_gate", "--verify-key", keys[1])
    assert ran.exit_code == 0 and ran.stderr == "" and "verdict: pass" in ran.stdout
    # what was checked, not "no reference" (a --reference may well have been given: break-it r5)
    assert ran.stdout.splitlines()[-1] == "verdict: pass — no guard fired; none of those that ran (manifest) judges flip rates, so no flip rate was checked"
