"""Break-it round 12: the findings of bench/findings/breakit-r12.md (PostgreSQL as source and attack vector, ids as
people have them, the CI gate). Small data of our own against the session's throwaway PostgreSQL; each test failed on
the code before its fix."""

from __future__ import annotations

import psycopg

from labelguard.tasks import postgres as pg
from tests.clirun import invoke


def _sql(url: str, statement: str, params=None) -> None:
    with psycopg.connect(url.split("?")[0]) as conn:
        conn.execute(statement, params)


def _table(url: str, name: str) -> str:
    return url.replace("table=reviews", f"table={name}")


# ---------------------------------------------------------------- finding 10: another table's fingerprint


def test_another_tables_fingerprint_is_a_usage_error_not_every_row_changed(pg_url, keys, tmp_path):
    """Passing t_small's snapshot while checking reviews read as "every label changed, some deleted" (exit 1)."""
    pg.seed_db(pg.parse_table_url(pg_url), 60, seed=1)
    other = _table(pg_url, "other")
    pg.seed_db(pg.parse_table_url(other), 80, seed=2)
    fp = tmp_path / "other.json"
    assert invoke("snapshot", other, "--out", fp, "--signing-key", keys[0]).exit_code == 0
    db = pg_url.split("/")[-1].split("?")[0]
    line = f"error: {fp} is the snapshot of table other in database {db}, not of reviews in {db} (fix: pass reviews's own fingerprint, or take one: labelguard snapshot URL)\n"
    res = invoke("verify", pg_url, "--fingerprint", fp, "--verify-key", keys[1])
    assert (res.exit_code, res.stderr, res.stdout) == (2, line, "")
    res = invoke("ingest", "--source", pg_url, "--dest", tmp_path / "ds", "--fingerprint", fp, "--signing-key", keys[0])
    assert (res.exit_code, res.stderr) == (2, line)
    assert not (tmp_path / "ds").exists()
    # its own table still verifies against it
    res = invoke("verify", other, "--fingerprint", fp, "--verify-key", keys[1])
    assert res.exit_code == 0
