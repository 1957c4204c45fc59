"""Break-it round 3 findings, each pinned with its exact exit code and one-line message (small data of our own)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.clirun import invoke


@pytest.fixture
def env(own_key_env):
    return own_key_env


def three_classes(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    y = rng.choice(3, n)
    x = rng.normal(0, 4, (3, 3))[y] + rng.normal(0, 1, (n, 3))
    frame = pd.DataFrame(x, columns=["f0", "f1", "f2"])
    frame.insert(0, "id", [f"x{i:04d}" for i in range(n)])
    frame["label"] = y
    return frame


@pytest.fixture
def lake(tmp_path, env):
    """A sealed three-part Hive lake written by pyarrow (100 rows a day)."""
    root = tmp_path / "lake"
    frame = three_classes()
    for day in range(3):
        (root / f"date=2026-01-0{day + 1}").mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(frame.iloc[day * 100:(day + 1) * 100], preserve_index=False),
                       root / f"date=2026-01-0{day + 1}" / "part-0.parquet")
    sealed = invoke("seal", root, "--id-col", "id", "--label-col", "label", env=env)
    assert sealed.exit_code == 0, sealed.output
    return root


def manifest_detail(output: str) -> str:
    """The manifest guard's detail as one string (the table wraps it over several lines)."""
    lines = [line for line in output.splitlines() if line.startswith("│")]
    start = next(i for i, line in enumerate(lines) if line.split("│")[1].strip() == "manifest")
    cells = [lines[start].split("│")[4].strip()]
    for line in lines[start + 1:]:
        if line.split("│")[1].strip():
            break
        cells.append(line.split("│")[4].strip())
    return " ".join(cells)


def test_unlisted_object_of_another_schema_is_unlisted_object_not_a_crash(lake, env):
    pd.DataFrame({"id": ["zz"], "label": ["a"], "f0": ["s"]}).to_parquet(lake / "date=2026-01-02" / "extra.parquet", index=False)
    result = invoke("verify", lake, "--guards", "manifest", env=env)
    assert result.exit_code == 1, result.output
    assert "unexpected" not in result.output
    assert manifest_detail(result.output) == (
        "unlisted-object: 1 Parquet object(s) under the dataset that the signed manifest does not list: "
        "date=2026-01-02/extra.parquet (1 of them unreadable or of another schema: their rows are not named); "
        "0 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing"
    )
    assert result.output.strip().splitlines()[-1] == "guard fired: manifest"


def test_unlisted_object_of_the_same_schema_still_names_its_rows(lake, env):
    extra = three_classes().iloc[:2].assign(id=["new-1", "new-2"])
    pq.write_table(pa.Table.from_pandas(extra, preserve_index=False), lake / "date=2026-01-01" / "extra.parquet")
    result = invoke("verify", lake, "--guards", "manifest", env=env)
    assert result.exit_code == 1, result.output
    assert "suspect rows (2, from manifest): new-1, new-2" in result.output


def test_listed_object_cut_short_at_rest_is_a_digest_mismatch(lake, env):
    part = lake / "date=2026-01-02" / "part-0.parquet"
    part.write_bytes(part.read_bytes()[:300])
    result = invoke("verify", lake, "--guards", "manifest", env=env)
    assert result.exit_code == 1, result.output
    detail = manifest_detail(result.output)
    assert detail.startswith("digest-mismatch: date=2026-01-02/part-0.parquet: SHA-256 ")
    assert detail.endswith("and the object is not readable Parquet; 0 label(s) changed, 0 row(s) otherwise edited, 0 added, 100 missing")


def test_ingest_refuses_a_sealed_source_edited_at_rest_and_writes_nothing(lake, env, tmp_path):
    from labelguard.tasks.dataset import signed_source_problem
    from labelguard.tasks.manifest import load_verify_key

    assert signed_source_problem(str(lake), load_verify_key(env["LABELGUARD_VERIFY_KEY"])) is None  # intact: ingested as before
    part = lake / "date=2026-01-02" / "part-0.parquet"
    frame = pd.read_parquet(part)
    frame.loc[frame.index[:2], "label"] = (frame["label"].iloc[:2] + 1) % 3
    frame.to_parquet(part, index=False)
    for source in (lake, part):
        dest = tmp_path / "store" / "again"
        result = invoke("ingest", "--source", source, "--label-col", "label", "--id-col", "id", "--dest", dest, env=env)
        assert result.exit_code == 1, result.output
        line = result.output.strip()
        assert line.startswith(f"guard fired: source manifest fired, cannot be trusted ({lake} carries a signed manifest that fails "
                               "verification: digest-mismatch: date=2026-01-02/part-0.parquet: SHA-256 ")
        assert line.endswith("; 2 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing) "
                             f"(fix: restore the source from a signed copy, or approve the change with `labelguard seal {lake}` first)")
        assert len(result.output.strip().splitlines()) == 1
        assert not dest.exists() and not (tmp_path / "store").exists()


def test_a_key_given_as_its_pem_text_is_refused_without_echoing_it(env, tmp_path, lake):
    from pathlib import Path

    secret = Path(env["LABELGUARD_SIGNING_KEY"]).read_text()
    (tmp_path / "r.csv").write_text("id,label,f0\na,0,1.0\nb,1,2.0\nc,0,1.5\nd,1,2.5\n")
    result = invoke("ingest", "--source", tmp_path / "r.csv", "--label-col", "label", "--id-col", "id", "--dest", tmp_path / "out",
                    env={**env, "LABELGUARD_SIGNING_KEY": secret})
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("error: LABELGUARD_SIGNING_KEY / --signing-key holds a PEM key itself, not the path of a signing key file "
                                     "(fix: write the key to a file (mode 0600) and point LABELGUARD_SIGNING_KEY at that file)")
    assert not (tmp_path / "out").exists()
    public = Path(env["LABELGUARD_VERIFY_KEY"]).read_text()
    result = invoke("verify", lake, "--guards", "manifest", env={**env, "LABELGUARD_VERIFY_KEY": public})
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("error: LABELGUARD_VERIFY_KEY / --verify-key holds a PEM key itself, not the path of a verify key file "
                                     "(fix: write the key to a file (mode 0600) and point LABELGUARD_VERIFY_KEY at that file)")
    body = "".join(secret.splitlines()[1:-1])
    assert body[:20] not in result.output


@pytest.mark.parametrize(
    ("aws", "line"),
    [
        ({"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_ENDPOINT_URL_S3": "127.0.0.1:5091"},
         "error: S3 endpoint '127.0.0.1:5091' has no http:// or https:// scheme (fix: write it as http://127.0.0.1:5091 (or https://))"),
        ({"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": None, "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"},
         "error: partial AWS credentials in env: AWS_SECRET_ACCESS_KEY is missing (fix: set AWS_SECRET_ACCESS_KEY too, or neither)"),
        ({"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_PROFILE": "nope", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"},
         "error: AWS profile 'nope' (AWS_PROFILE) is not in the AWS config files (fix: name an existing profile, or unset AWS_PROFILE)"),
    ],
    ids=["endpoint-without-scheme", "partial-credentials", "missing-profile"],
)
def test_s3_configuration_mistakes_are_one_line_not_unexpected(env, tmp_path, aws, line):
    empty = tmp_path / "aws-config-absent"
    aws = {"AWS_CONFIG_FILE": str(empty), "AWS_SHARED_CREDENTIALS_FILE": str(empty), "AWS_ENDPOINT_URL": None, "AWS_PROFILE": None, **aws}
    result = invoke("verify", "s3://bkt1/data", env={**env, **aws})
    assert result.exit_code == 2, result.output
    assert result.output.strip() == line


def test_an_endpoint_that_is_not_s3_names_the_bucket_not_none(env):
    """Any HTTP server answering 404 (here: no S3 at all) used to give `no object None in bucket bkt1`."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class NotFound(BaseHTTPRequestHandler):
        def _answer(self):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD = do_PUT = _answer

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        aws = {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{server.server_port}", "AWS_ENDPOINT_URL": None, "AWS_PROFILE": None}
        result = invoke("verify", "s3://bkt1/data", env={**env, **aws})
    finally:
        server.shutdown()
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (f"error: no dataset at s3://bkt1/data: bucket 'bkt1' does not exist on the S3 endpoint http://127.0.0.1:{server.server_port} "
                                     "(fix: check the URI and the endpoint (--endpoint-url, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS), "
                                     "or ingest a dataset there first)")


def test_seal_signs_a_part_added_or_removed_since_and_object_missing_names_the_rows(lake, env):
    extra = three_classes().iloc[:2].assign(id=["new-1", "new-2"])
    pq.write_table(pa.Table.from_pandas(extra, preserve_index=False), lake / "date=2026-01-01" / "extra.parquet")
    added = invoke("seal", lake, env=env)
    assert added.exit_code == 0, added.output
    lines = added.output.strip().splitlines()
    assert lines[0] == "approving unlisted-object: 0 label(s) changed, 0 row(s) otherwise edited, 2 added, 0 missing (rows new-1, new-2)"
    assert " version 2 (data), 4 object(s), 302 rows; " in lines[1]
    assert invoke("verify", lake, "--guards", "manifest", env=env).exit_code == 0
    for part in (lake / "date=2026-01-03").iterdir():
        part.unlink()
    gone = invoke("verify", lake, "--guards", "manifest", env=env)
    assert gone.exit_code == 1, gone.output
    assert manifest_detail(gone.output) == ("object-missing: data object date=2026-01-03/part-0.parquet is gone; "
                                            "0 label(s) changed, 0 row(s) otherwise edited, 0 added, 100 missing")
    removed = invoke("seal", lake, env=env)
    assert removed.exit_code == 0, removed.output
    lines = removed.output.strip().splitlines()
    assert lines[0] == "approving object-missing: 0 label(s) changed, 0 row(s) otherwise edited, 0 added, 100 missing"
    assert " version 3 (data), 3 object(s), 202 rows; " in lines[1]
    assert invoke("verify", lake, "--guards", "manifest", env=env).exit_code == 0
    again = invoke("seal", lake, env=env)
    assert again.output.strip().startswith("nothing changed since version 3 of ")


def test_ctrl_c_as_the_data_object_lands_leaves_nothing_behind(tmp_path, env, monkeypatch):
    """SIGINT right after data.parquet is linked into place, before write_dataset noted it: it used to stay behind."""
    import os
    import signal

    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key
    from labelguard.tasks.storage import LocalStore

    store = LocalStore(tmp_path / "ds")
    real_put = LocalStore.put

    def put_then_interrupt(self, key, data, **kw):
        info = real_put(self, key, data, **kw)
        if key == "data.parquet":
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, delivered the moment the object is in place
        return info

    monkeypatch.setattr(LocalStore, "put", put_then_interrupt)
    spec = ColumnSpec(id_col="id", label_col="label", feature_cols=("f0", "f1", "f2"), timestamp_col=None, classes=(0, 1, 2))
    with pytest.raises(KeyboardInterrupt):
        write_dataset(store, three_classes(), spec, load_signing_key(env["LABELGUARD_SIGNING_KEY"]), source={})
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == []


def test_seal_of_a_root_of_signed_partitions_points_at_them(tmp_path, env):
    root = tmp_path / "lake"
    for day in ("date=2026-03-01", "date=2026-03-02"):
        (root / day).mkdir(parents=True)
        three_classes(10).to_parquet(root / day / "part-00000.parquet", index=False)
        (root / day / "manifest.json").write_text("{}")  # what `ingest --partition` leaves: each day signed on its own
    result = invoke("seal", root, "--id-col", "id", "--label-col", "label", env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"error: {root} holds no Parquet outside 2 folder(s) signed on their own (date=2026-03-01, date=2026-03-02) "
        f"(fix: point at one of them, e.g. {root}/date=2026-03-01; daily partitions are checked with `labelguard drift {root}`)"
    )
    assert sorted(p.name for p in root.iterdir()) == ["date=2026-03-01", "date=2026-03-02"]
