"""Break-it round 14: the findings of bench/findings/breakit-r14.md (the PostgreSQL vector, lakes, the CI-gate view).
Each test failed on the code before its fix."""

from __future__ import annotations

import json

from tests.clirun import invoke


# ---------------------------------------------------------------- finding 12: another spelling of the same table


def test_a_snapshot_is_found_under_every_spelling_of_its_table(pg_url, keys, tmp_path, monkeypatch):
    """The table snapshotted as `?table=reviews` and tampered: `?table=public.reviews` (and `localhost` for 127.0.0.1) found
    no snapshot, so `ingest` read it unguarded (exit 0, the flips signed) and `verify` told the user to snapshot it (exit 2)."""
    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(keys[0]))
    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", str(keys[1]))
    assert invoke("seed-db", pg_url, "--rows", 300, "--seed", 3).exit_code == 0
    assert invoke("snapshot", pg_url).exit_code == 0
    res = invoke("tamper", pg_url, "--attack", "targeted", "--rate", 0.02, "--truth-out", tmp_path / "truth.json")
    assert res.exit_code == 0, res.output
    flipped = sorted(f["id"] for f in json.loads((tmp_path / "truth.json").read_text())["flipped"])
    assert len(flipped) == 6
    line = f"guard fired: table_fingerprint: 6 label(s) changed, 0 row(s) otherwise edited, 0 inserted, 0 deleted; changed ids: {', '.join(flipped)}\n"
    for alias in (pg_url.replace("?table=reviews", "?table=public.reviews"), pg_url.replace("@127.0.0.1:", "@localhost:")):
        res = invoke("verify", alias)
        assert (res.exit_code, res.stderr) == (1, line), alias
    refused = invoke("ingest", "--source", pg_url.replace("?table=reviews", "?table=public.reviews"), "--dest", tmp_path / "ds")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("guard fired: table_fingerprint fired, ingest refused (6 label(s) changed, ")
    assert not (tmp_path / "ds").exists()
    assert len(list((tmp_path / "state" / "tables").glob("*.json"))) == 1

