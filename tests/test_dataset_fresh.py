"""Dataset behaviour that the fresh seed-11 mutation sample of tasks/dataset.py (issue 13, fourth
session) found untested: which ``ingest --source`` paths are checked for a signed manifest of their
own, and the walk up from one part of a sealed lake to the manifest at its root."""

from __future__ import annotations

import pytest

from labelguard.tasks.dataset import MANIFEST_KEY, seal_dataset, signed_source_problem, to_parquet_bytes
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews


def test_a_part_edited_at_rest_is_found_from_the_manifest_two_levels_up(tmp_path, keys):
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(40, seed=7)
    store.put("date=2026-01-01/part-0.parquet", to_parquet_bytes(frame.iloc[:20].reset_index(drop=True)))
    store.put("date=2026-01-02/part-0.parquet", to_parquet_bytes(frame.iloc[20:].reset_index(drop=True)))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec())
    verify = load_verify_key(keys[1])
    part = tmp_path / "lake" / "date=2026-01-02" / "part-0.parquet"
    assert signed_source_problem(str(part), verify) is None  # intact
    edited = frame.iloc[20:].reset_index(drop=True)
    edited.loc[0, "label"] = 1 - edited.loc[0, "label"]
    part.write_bytes(to_parquet_bytes(edited))
    for source in (part, part.parent):
        location, rep = signed_source_problem(str(source), verify)
        assert (location, rep.code) == (store.uri, "digest-mismatch")


@pytest.mark.parametrize("name", ["rows.csv", "rows.tsv", "rows.txt", "rows.csv.gz", "rows.bz2", "rows.xz", "part-*.parquet"])
def test_text_compressed_and_glob_sources_are_not_checked_for_a_manifest(tmp_path, keys, name):
    """A folder whose manifest does not even parse: a Parquet source there is refused, the others are not looked at."""
    (tmp_path / MANIFEST_KEY).write_text("not a manifest")
    (tmp_path / "rows.parquet").write_bytes(to_parquet_bytes(make_reviews(5, seed=8)))
    verify = load_verify_key(keys[1])
    assert signed_source_problem(str(tmp_path / "rows.parquet"), verify)[0] == LocalStore(tmp_path).uri
    (tmp_path / name).write_text("id,label\n")
    assert signed_source_problem(str(tmp_path / name), verify) is None


def test_an_edited_manifest_moved_away_from_its_part_keeps_its_code_and_says_why_it_cannot_localize(tmp_path, keys):
    """A holdout folder copied elsewhere, its manifest then edited: the signature fails, and the row
    sidecar (still validly signed) belongs to part ``holdout``, which this folder is not."""
    import json
    import shutil

    from labelguard.tasks.dataset import load_verified, write_dataset
    from labelguard.tasks.manifest import DatasetRef

    write_dataset(LocalStore(tmp_path / "ds" / "holdout"), make_reviews(20, seed=9), ColumnSpec(), load_signing_key(keys[0]),
                  source={"kind": "test"}, dataset=DatasetRef("ds-fresh", role="holdout", part="holdout"))
    shutil.copytree(tmp_path / "ds" / "holdout", tmp_path / "elsewhere")
    doc = json.loads((tmp_path / "elsewhere" / MANIFEST_KEY).read_text())
    doc["payload"]["rows"] += 1
    (tmp_path / "elsewhere" / MANIFEST_KEY).write_text(json.dumps(doc))
    rep = load_verified(LocalStore(tmp_path / "elsewhere"), load_verify_key(keys[1]))
    assert rep.code == "bad-signature" and rep.suspect_ids is None
    assert rep.detail == "manifest signature does not verify: the manifest was edited; row sidecar belongs to another dataset part: cannot localize"


def test_a_reseal_of_a_dataset_whose_only_object_is_gone_approves_it_in_one_line(tmp_path, keys):
    from labelguard.tasks.dataset import DATA_KEY, seal_changes, write_dataset

    store = LocalStore(tmp_path / "ds")
    write_dataset(store, make_reviews(20, seed=10), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    store.delete(DATA_KEY)
    assert seal_changes(store, load_verify_key(keys[1])) == f"approving object-missing: data object {DATA_KEY} is gone"


def test_sealing_an_s3_folder_finds_its_parts_at_the_stores_own_endpoint(s3_uri, s3_endpoint, keys, monkeypatch):
    """The endpoint given to the store is the one the parts are listed at, not the environment's."""
    from labelguard.tasks.storage import open_store

    store = open_store(s3_uri, endpoint_url=s3_endpoint)
    store.ensure_writable()  # creates the bucket
    frame = make_reviews(30, seed=11)
    store.put("date=2026-01-01/part-0.parquet", to_parquet_bytes(frame.iloc[:10].reset_index(drop=True)))
    store.put("date=2026-01-02/part-0.parquet", to_parquet_bytes(frame.iloc[10:].reset_index(drop=True)))
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    manifest = seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec())
    assert [(o["key"], o["rows"]) for o in manifest.payload["objects"]] == [
        ("date=2026-01-01/part-0.parquet", 10), ("date=2026-01-02/part-0.parquet", 20)]


def test_a_new_dataset_is_named_after_its_folder_with_twelve_random_hex_digits(tmp_path, keys):
    import re

    from labelguard.tasks.dataset import write_dataset

    manifest = write_dataset(LocalStore(tmp_path / "Reviews_2026"), make_reviews(10, seed=12), ColumnSpec(), load_signing_key(keys[0]),
                             source={"kind": "test"})
    ref = manifest.payload["dataset"]
    assert re.fullmatch(r"reviews-2026-[0-9a-f]{12}", ref["id"]) and (ref["role"], ref["part"], ref["version"]) == ("data", "", 1)


def test_nothing_at_a_location_is_dataset_missing_with_its_fix(tmp_path):
    from labelguard.errors import DatasetMissing
    from labelguard.tasks.dataset import read_manifest

    with pytest.raises(DatasetMissing) as err:
        read_manifest(LocalStore(tmp_path / "nothing"))
    assert str(err.value) == f"no dataset at {tmp_path / 'nothing'} (fix: check the URI (labelguard ingest writes one there))"


# ------------------------------------------------------------------ twentieth session: the manifest above a source decides


def _sealed_lake(tmp_path, keys):
    """A lake sealed in place: date=2026-01-01/part-0.parquet (rows rev-0000000..19), date=2026-01-02/part-0.parquet (20..39)."""
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(40, seed=7)
    for i, day in enumerate(("2026-01-01", "2026-01-02")):
        store.put(f"date={day}/part-0.parquet", to_parquet_bytes(frame.iloc[20 * i : 20 * (i + 1)].reset_index(drop=True)))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec())
    return store, frame


@pytest.mark.parametrize("drop", ["entry", "objects"])
def test_an_edited_part_whose_manifest_entry_was_removed_is_not_taken_as_new_data(tmp_path, keys, drop):
    """Editing a part and then removing its entry (or the whole ``objects`` list) from the lake's manifest made
    ``signed_source_problem`` read the manifest as not covering the part, before its signature was checked: ingest of
    the part would have re-signed edited rows. Only a manifest whose signature holds may say a source is not its data."""
    import json

    store, frame = _sealed_lake(tmp_path, keys)
    part = tmp_path / "lake" / "date=2026-01-02" / "part-0.parquet"
    edited = frame.iloc[20:].reset_index(drop=True)
    edited.loc[3, "label"] = 1 - edited.loc[3, "label"]
    part.write_bytes(to_parquet_bytes(edited))
    path = tmp_path / "lake" / "_manifest.json"
    doc = json.loads(path.read_text())
    if drop == "entry":
        doc["payload"]["objects"] = [o for o in doc["payload"]["objects"] if o["key"] != "date=2026-01-02/part-0.parquet"]
    else:
        del doc["payload"]["objects"]
    path.write_text(json.dumps(doc))
    location, rep = signed_source_problem(str(part), load_verify_key(keys[1]))
    assert (location, rep.code) == (store.uri, "bad-signature")
    assert rep.detail.startswith("manifest signature does not verify: the manifest was edited")
    assert rep.suspect_ids == ["rev-0000023"]  # the signed row sidecar still names the edited row


def test_a_listed_part_deleted_with_its_folder_is_missing_and_a_mistyped_path_is_not_checked(tmp_path, keys):
    """A part the signed manifest lists, deleted together with its ``date=`` folder: the walk up to the manifest stopped at
    the missing folder (ingest then said "missing source", exit 2), where the same part deleted from a folder that
    remains, or from an S3 prefix, is ``object-missing``. A path the signed manifest does not list is not its data."""
    import shutil

    store, _ = _sealed_lake(tmp_path, keys)
    verify = load_verify_key(keys[1])
    typo = tmp_path / "lake" / "date=2026-01-03" / "part-0.parquet"
    assert signed_source_problem(str(typo), verify) is None
    shutil.rmtree(tmp_path / "lake" / "date=2026-01-02")
    location, rep = signed_source_problem(str(tmp_path / "lake" / "date=2026-01-02" / "part-0.parquet"), verify)
    assert (location, rep.code) == (store.uri, "object-missing")
    assert rep.detail.startswith("data object date=2026-01-02/part-0.parquet is gone")
    assert signed_source_problem(str(typo), verify) is None


def test_a_source_under_a_manifest_of_another_key_cannot_be_vouched_for_listed_or_not(tmp_path, keys, other_keys):
    """A manifest signed by a key we do not trust cannot say what it does not cover: a file beside its parts is refused
    with ``unknown-key`` as a listed part is; a file beside a single file sealed with the trusted key is not its data."""
    store, frame = _sealed_lake(tmp_path, keys)
    beside = tmp_path / "lake" / "date=2026-01-02" / "extra.parquet"
    beside.write_bytes(to_parquet_bytes(frame.iloc[:5]))
    location, rep = signed_source_problem(str(beside), load_verify_key(other_keys[1]))
    assert (location, rep.code) == (store.uri, "unknown-key")
    alone = LocalStore(tmp_path / "single")
    alone.put("a.parquet", to_parquet_bytes(frame.iloc[:10]))
    seal_dataset(alone, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["a.parquet"])
    alone.put("b.parquet", to_parquet_bytes(frame.iloc[10:20]))
    assert signed_source_problem(str(tmp_path / "single" / "b.parquet"), load_verify_key(keys[1])) is None
    location, rep = signed_source_problem(str(tmp_path / "single" / "b.parquet"), load_verify_key(other_keys[1]))
    assert (location, rep.code) == (alone.uri, "unknown-key")


def test_a_sealed_lake_whose_manifest_was_deleted_is_not_taken_as_an_unsealed_folder(tmp_path, keys):
    """`rm lake/_manifest.json` after editing a part, the signed row sidecar left: the walk found no manifest and ingest
    signed the edit as new data (exit 0; a new user's report, twentieth session); the sidecar says the folder was signed."""
    store, frame = _sealed_lake(tmp_path, keys)
    part = tmp_path / "lake" / "date=2026-01-02" / "part-0.parquet"
    edited = frame.iloc[20:].reset_index(drop=True)
    edited["label"] = 1 - edited["label"]
    part.write_bytes(to_parquet_bytes(edited))
    (tmp_path / "lake" / "_manifest.json").unlink()
    verify = load_verify_key(keys[1])
    for source in (part, tmp_path / "lake"):
        location, rep = signed_source_problem(str(source), verify)
        assert (location, rep.code) == (store.uri, "missing-manifest")
        assert rep.detail == f"objects at {store.uri} but no manifest.json: the data cannot be vouched for"
    unsigned = LocalStore(tmp_path / "plain")
    unsigned.put("part-0.parquet", to_parquet_bytes(frame))
    assert signed_source_problem(str(tmp_path / "plain" / "part-0.parquet"), verify) is None
