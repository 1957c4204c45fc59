"""Break-it round 4 findings, each pinned with its exact exit code and one-line message (small data of our own)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.clirun import invoke


@pytest.fixture
def env(own_key_env):
    return own_key_env


@pytest.fixture
def csv(tmp_path):
    """300 rows, two well separated classes spelt pos/neg, text ids."""
    rng = np.random.default_rng(4)
    y = rng.choice(2, 300)
    frame = pd.DataFrame(rng.normal(0, 1, (300, 3)) + 3 * y[:, None], columns=["f0", "f1", "f2"])
    frame.insert(0, "id", [f"c-{i:04d}" for i in range(300)])
    frame["label"] = np.where(y == 1, "pos", "neg")
    path = tmp_path / "batch.csv"
    frame.to_csv(path, index=False)
    return path


SAME_COLUMN = ("error: --id-col and --label-col both name column 'label': the labels would be taken as the row ids "
               "(fix: pass the column of unique row ids as --id-col (or --id-col auto to key rows by position))")


@pytest.mark.parametrize("command", ["ingest", "poison", "seal", "verify"])
def test_id_col_naming_the_label_col_is_refused_before_anything_is_written(env, tmp_path, csv, command):
    """`--id-col label` was signed: the labels became the ids, the schema guard passed 2 distinct ids, tamper then crashed verify."""
    before = sorted(p.name for p in tmp_path.iterdir())
    same = ["--id-col", "label", "--label-col", "label"]
    args = {
        "ingest": ["ingest", "--source", csv, "--dest", tmp_path / "d", "--positive-class", "pos", *same],
        "poison": ["poison", csv, "--attack", "random", "--rate", "0.1", "--out", tmp_path / "p.csv", *same],
        "seal": ["seal", tmp_path, *same],
        "verify": ["verify", tmp_path, *same],
    }[command]
    result = invoke(*args, env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == SAME_COLUMN
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("command", [["sample", "--out", "s.csv"], ["simulate", "--out", "sim", "--no-prefect"],
                                     ["tamper", "nowhere", "--attack", "random", "--rate", "0.1", "--truth-out", "t.json"]])
def test_a_negative_seed_is_one_line_not_unexpected_and_writes_nothing(env, tmp_path, monkeypatch, command):
    """numpy refused --seed -1 deep inside each command ('unexpected ValueError'); simulate had written its keys by then."""
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke(*command, "--seed", "-1", env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == "error: --seed must be 0 or more, got -1 (fix: pass e.g. --seed 0)"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(("args", "line"), [
    (["ingest", "--source", "batch.csv", "--id-col", "id", "--positive-class", "pos", "--dest", ""], "error: --dest is empty"),
    (["keygen", "--out="], "error: --out is empty"),
    (["verify", ""], "error: an argument is empty"),
])
def test_an_empty_path_is_refused_instead_of_meaning_the_current_directory(env, tmp_path, csv, monkeypatch, args, line):
    """`--dest "$DEST"` with DEST unset wrote the dataset (or keys) into the current directory, exit 0."""
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke(*args, env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"{line} (fix: pass a value (an unset shell variable expands to an empty argument))"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_trusted_rows_whose_ids_are_numbers_while_the_datasets_are_text_are_compared_as_written(prefect_harness, env, tmp_path, csv):
    """`verify --holdout/--reference` crashed ('unexpected ValueError: You are trying to merge on int64 and string
    columns') when one export wrote its ids as numbers and the other as text; the overlap compares them as written."""
    import json

    frame = pd.read_csv(csv)
    frame["id"] = np.arange(300)
    frame.to_csv(tmp_path / "numeric.csv", index=False)
    frame.astype({"id": str}).to_parquet(tmp_path / "text.parquet", index=False)  # the same rows, ids "0".."299" as text
    for name, source, seed in (("num", tmp_path / "numeric.csv", 0), ("txt", tmp_path / "text.parquet", 1)):
        result = invoke("ingest", "--source", source, "--id-col", "id", "--positive-class", "pos", "--seed", seed,
                        "--dest", tmp_path / name, env=env)
        assert result.exit_code == 0, result.output
    holdout = pd.read_parquet(tmp_path / "num" / "holdout" / "data.parquet")
    training = pd.read_parquet(tmp_path / "txt" / "data.parquet")
    assert holdout["id"].dtype.kind == "i" and training["id"].dtype.kind != "i"
    shared = len(set(holdout["id"].astype(str)) & set(training["id"]))
    assert 0 < shared < len(holdout)
    result = invoke("verify", tmp_path / "txt", "--holdout", tmp_path / "num" / "holdout", "--guards", "schema",
                    "--json", tmp_path / "v.json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "v.json").read_text())["overlap"] == {"holdout": {"shared": shared, "of": len(holdout)}}


@pytest.mark.parametrize(("command", "out", "line"), [
    (["pipeline", "nowhere"], "notes.txt", "error: --out notes.txt is a file, not a directory (fix: choose a directory for the report with --out)"),
    (["pipeline", "nowhere"], "notes.txt/sub", "error: --out notes.txt/sub lies below the file notes.txt, not a directory (fix: choose a directory for the report with --out)"),
    (["demo"], "notes.txt", "error: --out notes.txt is a file, not a directory (fix: choose a directory for the report with --out)"),
])
def test_a_report_dir_that_is_a_file_is_refused_before_the_flow_runs(env, tmp_path, monkeypatch, command, out, line):
    """pipeline/demo --out FILE ran the whole flow, trained, then ended in 'unexpected FileExistsError'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke(*command, "--out", out, env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == line
    assert sorted(p.name for p in tmp_path.iterdir()) == before and (tmp_path / "notes.txt").read_text() == "mine\n"


def test_verify_json_inside_the_dataset_is_refused_and_the_manifest_survives(env, tmp_path, monkeypatch):
    """`verify ds --json ds/manifest.json` overwrote the signed manifest; the next verify then fired `manifest` (exit 1)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "manifest.json").write_text("signed\n")
    result = invoke("verify", "ds", "--json", "ds/manifest.json", env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("error: --json ds/manifest.json is inside the dataset ds: it would overwrite or add to the signed data "
                                     "(fix: write the JSON outside the store)")
    assert (tmp_path / "ds" / "manifest.json").read_text() == "signed\n"


def test_a_ledger_option_naming_the_wrong_file_is_refused(env, tmp_path, csv, monkeypatch):
    """ingest appended signed entries to any file given as --ledger (then every verify fired `bad-ledger`);
    verify with a mistyped --ledger checked without one, turning rollback detection off silently."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results.jsonl").write_text('{"run": 1}\n')
    result = invoke("ingest", "--source", csv, "--id-col", "id", "--positive-class", "pos", "--dest", "d", "--ledger", "results.jsonl", env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("error: results.jsonl is not a labelguard ledger (line 1 is not a signed entry) "
                                     "(fix: pass the ledger file ingest wrote, a new path, or --ledger none)")
    assert (tmp_path / "results.jsonl").read_text() == '{"run": 1}\n' and not (tmp_path / "d").exists()
    for ledger, what in (("typo.jsonl", "does not exist"), (".", "is a directory")):
        result = invoke("verify", "d", "--ledger", ledger, env=env)
        assert result.exit_code == 2, result.output
        assert result.output.strip() == f"error: --ledger {ledger} {what} (fix: pass the ledger file ingest wrote (or --ledger none to check without one))"


def test_nested_parquet_columns_are_signed_and_an_edit_of_one_is_localized(tmp_path, keys):
    """Finding 10: a list or struct column crashed ingest ("unhashable type") in the row sidecar.
    Nested cells now hash by their canonical JSON, so the dataset is signed, reads back intact, and
    an at-rest edit of one row's list cell is named as exactly that row."""
    from labelguard.tasks.dataset import DATA_KEY, from_parquet_bytes, load_verified, to_parquet_bytes, write_dataset
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
    from labelguard.tasks.storage import LocalStore

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"id": [f"n{i:03d}" for i in range(200)], "f1": rng.normal(size=200), "label": rng.choice(2, 200)})
    frame["tags"] = [[i % 3, 7] for i in range(200)]
    frame["meta"] = [{"k": i % 4, "s": "x"} for i in range(200)]
    spec = ColumnSpec(id_col="id", label_col="label", feature_cols=("f1",))
    store = LocalStore(tmp_path / "ds")
    write_dataset(store, frame, spec, load_signing_key(keys[0]), source={"kind": "file"})
    assert load_verified(store, load_verify_key(keys[1])).ok
    stored = from_parquet_bytes(store.get(DATA_KEY))
    stored.at[17, "tags"] = [0, 8]
    store.put(DATA_KEY, to_parquet_bytes(stored), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert not rep.ok and rep.code == "digest-mismatch"
    assert list(rep.suspect_ids) == ["n017"]
