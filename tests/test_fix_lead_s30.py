"""Found by the lead while trying the CLI as a user (session 30)."""

from __future__ import annotations

import json

from labelguard.tasks.dataset import to_parquet_bytes
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews
from tests.clirun import invoke


def test_rows_named_when_no_guard_fired_are_not_called_suspects_on_an_inconclusive_verdict(tmp_path, keys):
    """On clean 40-class data `verify` said `suspect rows (805, from flip_posterior)` under an `inconclusive` verdict in
    which no guard fired: guards that cannot vouch are not guards that found flips. Only a fired verdict calls the pooled
    posterior's rows suspects; otherwise they are the rows most likely flipped, as on a pass (the JSON is unchanged)."""
    frame = make_reviews(500, seed=30)
    flipped = [7, 52, 133, 208, 377]  # five labels changed before sealing: too few for any guard on 100 trusted rows
    frame.loc[flipped, "label"] = 1 - frame.loc[flipped, "label"]
    LocalStore(tmp_path / "lake").put("part-0.parquet", to_parquet_bytes(frame.iloc[:400]))
    LocalStore(tmp_path / "ref").put("part-0.parquet", to_parquet_bytes(frame.iloc[400:]))
    for name in ("lake", "ref"):
        assert invoke("seal", tmp_path / name, "--signing-key", keys[0], "--ledger", "none").exit_code == 0
    made = invoke("baseline", tmp_path / "ref", "--out", tmp_path / "base", "--signing-key", keys[0], "--verify-key", keys[1], "--ledger", "none")
    assert made.exit_code == 0, made.output
    res = invoke("verify", tmp_path / "lake", "--reference", tmp_path / "base", "--verify-key", keys[1], "--ledger", "none",
                 "--allow-inconclusive", "--json", tmp_path / "v.json")
    doc = json.loads((tmp_path / "v.json").read_text())
    assert res.exit_code == 0 and doc["verdict"] == "inconclusive" and not [g for g in doc["guards"] if g["verdict"] == "fired"]
    assert doc["suspects_from"] == ["flip_posterior"] and set(frame.loc[flipped, "review_id"]) <= set(doc["suspect_ids"])
    ids = doc["suspect_ids"]
    line = f"rows most likely flipped, though nothing fired ({len(ids)}, from flip_posterior): {', '.join(map(str, ids[:10]))}{' …' if len(ids) > 10 else ''}"
    assert line in res.stdout.splitlines()
    assert not [s for s in res.stdout.splitlines() if s.startswith("suspect rows")]
