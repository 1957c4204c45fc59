"""Found by the lead while trying the CLI as a user (session 27): fixes whose messages pointed at something that is not there."""

from __future__ import annotations

from labelguard.tasks.dataset import to_parquet_bytes
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews
from tests.clirun import invoke


def test_a_sealed_lake_passed_as_reference_is_told_to_make_a_baseline_not_pointed_at_a_holdout_it_lacks(tmp_path, keys):
    """A lake sealed in place has no holdout: the fix named `ref/holdout`, which does not exist. It now says how to make
    a baseline of it, and following that fix works (exit 0 on a clean candidate)."""
    frame = make_reviews(500, seed=8)
    LocalStore(tmp_path / "lake").put("part-0.parquet", to_parquet_bytes(frame.iloc[:400]))
    LocalStore(tmp_path / "ref").put("part-0.parquet", to_parquet_bytes(frame.iloc[400:]))
    for name in ("lake", "ref"):
        assert invoke("seal", tmp_path / name, "--signing-key", keys[0], "--ledger", "none").exit_code == 0
    args = ("--verify-key", keys[1], "--ledger", "none", "--guards", "class_balance")
    res = invoke("verify", tmp_path / "lake", "--reference", tmp_path / "ref", *args)
    ref_id = res.stderr.split("(dataset ")[1].split(",")[0]
    assert (res.exit_code, res.stderr) == (2, (
        f"error: the reference at {tmp_path / 'ref'} is a training set (dataset {ref_id}, role 'data', signed and intact), not "
        f"baseline or holdout data (fix: if its rows are trusted (labelled apart from the data you check), make a baseline of them "
        f"with `labelguard baseline {tmp_path / 'ref'} --out DIR` and pass DIR)\n"))
    assert sorted(p.name for p in (tmp_path / "ref").iterdir()) == ["_manifest.json", "_rows.parquet", "_rows.sig.json", "part-0.parquet"]
    made = invoke("baseline", tmp_path / "ref", "--out", tmp_path / "base", "--signing-key", keys[0], "--verify-key", keys[1], "--ledger", "none")
    assert made.exit_code == 0, made.output
    # 100 trusted rows cannot rule out a 20 % flip (inconclusive), so the fix is checked with --allow-inconclusive
    assert invoke("verify", tmp_path / "lake", "--reference", tmp_path / "base", *args, "--allow-inconclusive").exit_code == 0
