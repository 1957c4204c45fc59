"""README's configuration claims through the CLI: which S3 endpoint wins, and that the key
environment variables are used when set and overridden by the flags."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.server import free_port
from labelguard.tasks.dataset import write_dataset
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews

runner = CliRunner()


def _unreachable_line(endpoint: str) -> str:
    return f"error: cannot reach the S3 endpoint {endpoint}"


@pytest.mark.parametrize(
    "flag, env_s3, env_any, wins",
    [
        ("dead1", "live", "live", "dead1"),  # --endpoint-url over both variables
        (None, "dead2", "live", "dead2"),  # AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL
        (None, None, "dead3", "dead3"),  # AWS_ENDPOINT_URL when it is the only one
    ],
)
def test_s3_endpoint_precedence(flag, env_s3, env_any, wins, s3_endpoint, keys, monkeypatch):
    dead = {name: f"http://127.0.0.1:{free_port()}" for name in ("dead1", "dead2", "dead3")}
    value = {**dead, "live": s3_endpoint, None: None}
    for var, v in (("AWS_ENDPOINT_URL_S3", env_s3), ("AWS_ENDPOINT_URL", env_any)):
        if value[v]:
            monkeypatch.setenv(var, value[v])
        else:
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LABELGUARD_S3_MAX_ATTEMPTS", "1")
    args = ["verify", "s3://labelguard-test/precedence", "--verify-key", str(keys[1]), "--ledger", "none"]
    if flag:
        args += ["--endpoint-url", value[flag]]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert res.stderr.strip().startswith(_unreachable_line(value[wins])), res.stderr


def test_key_environment_variables_used_when_set_and_flags_override(tmp_path, keys, other_keys, monkeypatch):
    write_dataset(LocalStore(tmp_path / "src"), make_reviews(200, seed=0), ColumnSpec(), load_signing_key(keys[0]), source={})
    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", str(keys[1]))
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(other_keys[0]))
    res = runner.invoke(app, ["baseline", str(tmp_path / "src"), "--out", str(tmp_path / "b1"), "--ledger", "none"])
    # the signing key the environment named is the one used: not the verify key's pair, it is refused by its path
    assert res.exit_code == 2 and res.stderr.startswith(f"error: the signing key {other_keys[0]} (key "), res.stderr
    assert not (tmp_path / "b1").exists()
    from labelguard.tasks.dataset import load_verified

    res = runner.invoke(app, ["baseline", str(tmp_path / "src"), "--out", str(tmp_path / "b2"), "--ledger", "none", "--signing-key", str(keys[0])])
    assert res.exit_code == 0, res.stderr
    assert load_verified(LocalStore(tmp_path / "b2"), load_verify_key(keys[1])).code == "ok"
    # the verify key from the environment is used too: the wrong one makes the trusted source untrusted
    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", str(other_keys[1]))
    res = runner.invoke(app, ["baseline", str(tmp_path / "src"), "--out", str(tmp_path / "b3"), "--ledger", "none"])
    assert res.exit_code == 1 and res.stderr.strip().startswith("guard fired: trusted source fired, cannot be trusted (the trusted source at ")
    assert not (tmp_path / "b3").exists()
