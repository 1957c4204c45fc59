"""The ledger's own contract, exactly: locations as recorded, broken lines named by number, another
signer's entries skipped (not the end of the ledger), rollback and wrong-dataset decided by the
right fields. Written against the survivors of `make mutation` on tasks/ledger.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from labelguard.errors import BadInput
from labelguard.tasks.ledger import Ledger, default_ledger_path, LedgerBroken, LedgerEntry, check_against_ledger, manifest_digest, normalize_uri
from labelguard.tasks.manifest import canonical_json, load_signing_key, load_verify_key, sign_manifest


def manifest(ds_id: str, version: int, part: str = "", note: str = ""):
    return sign_manifest({"dataset": {"id": ds_id, "part": part, "role": "data", "version": version}, "note": note}, _KEY)


_KEY = None


@pytest.fixture(autouse=True)
def _signing(keys):
    global _KEY
    _KEY = load_signing_key(keys[0])


def entry(ds_id: str, version: int, uri: str, *, part: str = "", digest: str = "0" * 64) -> LedgerEntry:
    return LedgerEntry(ds_id, part, "data", version, digest, uri, "2026-01-01T00:00:00+00:00")


@pytest.mark.parametrize(
    "uri, recorded",
    [
        ("s3://bucket/a/b/", "s3://bucket/a/b"),
        ("s3://bucket/a//b//", "s3://bucket/a//b"),  # an S3 key is not a path: nothing collapsed, nothing resolved
        ("s3://bucket", "s3://bucket"),
        ("s3://bucket/BOX/", "s3://bucket/BOX"),  # only slashes are stripped
    ],
)
def test_s3_locations_recorded_as_written_without_trailing_slashes(uri, recorded):
    assert normalize_uri(uri) == recorded


def test_local_locations_recorded_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert normalize_uri("rel/ds/") == str(tmp_path / "rel" / "ds")
    assert normalize_uri(f"file://{tmp_path}/x/../ds") == str(tmp_path / "ds")
    assert normalize_uri("~/ds") == str(tmp_path / "home" / "ds")


def test_ledger_in_a_new_nested_folder(tmp_path, keys):
    book = Ledger(tmp_path / "a" / "b" / "ledger.jsonl")
    book.append(entry("d1", 1, "/x"), load_signing_key(keys[0]))
    assert book.entries(load_verify_key(keys[1])) == [entry("d1", 1, "/x")]


def test_unwritable_ledger_is_bad_input_with_problem_and_fix(tmp_path):
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "ledger.jsonl"
    with pytest.raises(BadInput) as info:
        Ledger(path).ensure_writable()
    assert info.value.problem == f"cannot write the ledger {path}: File exists"  # its folder cannot be made: a file is there
    assert info.value.fix == "set LABELGUARD_LEDGER or --ledger to a writable file"


def _book(tmp_path, keys, n=3) -> Ledger:
    book = Ledger(tmp_path / "ledger.jsonl")
    for i in range(n):
        book.append(entry(f"d{i}", 1, f"/loc{i}"), load_signing_key(keys[0]))
    return book


def test_every_line_is_chained_to_the_one_before(tmp_path, keys):
    book = _book(tmp_path, keys)
    lines = book.path.read_bytes().splitlines()
    prevs = [json.loads(line)["payload"]["prev"] for line in lines]
    assert prevs == ["0" * 64, hashlib.sha256(lines[0]).hexdigest(), hashlib.sha256(lines[1]).hexdigest()]


def test_a_line_that_is_not_an_entry_is_named_by_number(tmp_path, keys):
    book = _book(tmp_path, keys)
    lines = book.path.read_bytes().splitlines()
    book.path.write_bytes(b"\n".join([lines[0], b"{not json", lines[2]]) + b"\n")
    with pytest.raises(LedgerBroken) as info:
        book.entries(load_verify_key(keys[1]))
    assert str(info.value) == f"ledger {book.path} line 2 is not a signed entry"


def test_an_edited_entry_fails_its_signature_by_line_number(tmp_path, keys):
    book = _book(tmp_path, keys, n=1)
    doc = json.loads(book.path.read_bytes())
    doc["payload"]["entry"]["version"] = 9  # chain intact (first line), signature not
    book.path.write_text(json.dumps(doc) + "\n")
    with pytest.raises(LedgerBroken) as info:
        book.entries(load_verify_key(keys[1]))
    assert str(info.value) == f"ledger {book.path} line 1: signature does not verify"


def test_reordered_lines_break_the_chain_at_the_first_moved_line(tmp_path, keys):
    book = _book(tmp_path, keys)
    lines = book.path.read_bytes().splitlines()
    book.path.write_bytes(b"\n".join([lines[0], lines[2], lines[1]]) + b"\n")
    with pytest.raises(LedgerBroken) as info:
        book.entries(load_verify_key(keys[1]))
    assert str(info.value) == f"ledger {book.path} line 2 does not chain to the line before it (edited or reordered)"


def test_another_signers_entries_are_skipped_not_the_end(tmp_path, keys, other_keys):
    book = Ledger(tmp_path / "ledger.jsonl")
    book.append(entry("mine-1", 1, "/a"), load_signing_key(keys[0]))
    book.append(entry("theirs", 1, "/b"), load_signing_key(other_keys[0]))
    book.append(entry("mine-2", 1, "/c"), load_signing_key(keys[0]))
    assert [e.dataset_id for e in book.entries(load_verify_key(keys[1]))] == ["mine-1", "mine-2"]
    assert [e.dataset_id for e in book.entries(load_verify_key(other_keys[1]))] == ["theirs"]


def test_manifest_digest_is_the_sha256_of_the_canonical_payload():
    m = manifest("d", 1)
    assert manifest_digest(m) == hashlib.sha256(canonical_json(m.payload)).hexdigest()
    assert manifest_digest(m) != manifest_digest(manifest("d", 1, note="other"))


def test_same_version_other_state_is_rollback():
    recorded = manifest("d", 2)
    entries = [entry("d", 1, "/x"), entry("d", 2, "/x", digest=manifest_digest(recorded))]
    assert check_against_ledger(entries, recorded, "/x") is None
    assert check_against_ledger(entries, manifest("d", 2, note="swapped"), "/x") == (
        "rollback", "manifest version 2 of d is not the state the ledger recorded for it"
    )


def test_a_newer_version_than_the_ledger_knows_is_not_rollback():
    entries = [entry("d", 1, "/x", digest=manifest_digest(manifest("d", 1)))]
    assert check_against_ledger(entries, manifest("d", 2), "/x") is None


def test_wrong_dataset_only_for_the_same_location_and_part():
    ledger_entries = [entry("other", 1, "/x"), entry("holdout-of-other", 1, "/x", part="holdout")]
    m = manifest("d", 1)
    assert check_against_ledger([entry("other", 1, "/elsewhere")], m, "/x") is None  # another location
    assert check_against_ledger([ledger_entries[1]], m, "/x") is None  # another part at this location
    assert check_against_ledger(ledger_entries, m, "/x") == ("wrong-dataset", "the ledger records dataset other at /x, but the manifest is for d")
    assert check_against_ledger([entry("other", 1, str(Path("/x")))], m, "/x/") == ("wrong-dataset", "the ledger records dataset other at /x, but the manifest is for d")


def test_default_ledger_path(tmp_path, monkeypatch):
    monkeypatch.delenv("LABELGUARD_LEDGER", raising=False)
    assert default_ledger_path(tmp_path / "keys" / "verify.pub") == tmp_path / "keys" / "ledger.jsonl"
    assert default_ledger_path(None) is None
    monkeypatch.setenv("LABELGUARD_LEDGER", str(tmp_path / "elsewhere.jsonl"))
    assert default_ledger_path(tmp_path / "keys" / "verify.pub") == tmp_path / "elsewhere.jsonl"
    assert default_ledger_path(None) == tmp_path / "elsewhere.jsonl"
