"""Break-it round 10: the findings of bench/findings/breakit-r10.md (a folder above datasets read as tampering by the
integrity-only gate, poison --id-col auto, the demo's compromised run that flips nothing, ...). Small data of our own."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.clirun import invoke
from tests.test_fix_findings_r9 import _env, _ingest, _listing


# ---------------------------------------------------------------- finding 1: the folder above signed datasets


def test_verify_manifest_only_of_the_folder_above_datasets_is_a_usage_error(tmp_path, keys, monkeypatch):
    """Finding 1: `verify store --guards manifest` (one level short of store/ds) was exit 1, "missing-manifest: objects
    at store but no manifest.json: the data cannot be vouched for", though every object below is signed in its own
    folder; plain `verify store` already said exit 2. Now the integrity-only gate, `pipeline` (which said "no dataset at
    store/holdout") and `watch` (which served a deployment failing every run) say the same line, exit 2."""
    from labelguard.server import free_port

    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")  # a check after Prefect's would fail here
    store = tmp_path / "store"
    store.mkdir()
    _ingest(store, "ds", keys)
    line = (f"error: {store} holds no Parquet outside 2 folder(s) signed on their own (ds) (fix: point at one of them, e.g. {store}/ds; "
            f"daily partitions are checked with `labelguard drift {store}`)\n")
    for args in (("verify", store, "--guards", "manifest"), ("verify", store), ("pipeline", store),
                 ("watch", store, "--cron", "0 * * * *")):
        res = invoke(*args, "--ledger", "none", env=_env(keys))
        assert (res.exit_code, res.stderr, res.stdout) == (2, line, ""), args


def test_unsigned_parquet_beside_signed_datasets_still_cannot_be_vouched_for(tmp_path, keys):
    """The other side: a Parquet object nobody signed, beside the signed dataset, is data without a manifest (exit 1)."""
    store = tmp_path / "store"
    store.mkdir()
    _ingest(store, "ds", keys)
    pd.DataFrame({"review_id": [1, 2], "label": [0, 1]}).to_parquet(store / "loose.parquet", index=False)
    res = invoke("verify", store, "--guards", "manifest", "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n")
    assert "missing-manifest: objects at " in res.stdout

